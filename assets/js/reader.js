// Reading aids of the monograph, one small deferred script with no dependencies:
// the colour-scheme toggle, search (pagefind, loaded on first use), previews of citations,
// equation references and section links, copy buttons on code, the outline's current
// section, the phone sidebar, keyboard access to wide equations, and keyboard shortcuts (n / p: next / previous chapter,
// "/": search, Escape: close). Every part is optional: without it the page reads the same.
(function () {
  'use strict';
  var root = document.documentElement;
  var base = document.querySelector('link[rel="icon"]').getAttribute('href').replace(/assets\/favicon\.svg$/, '');

  // ---- colour scheme -------------------------------------------------------------------
  var darkQuery = window.matchMedia('(prefers-color-scheme: dark)');
  function currentScheme() { return root.dataset.theme || (darkQuery.matches ? 'dark' : 'light'); }
  function showScheme(button) {
    var dark = currentScheme() === 'dark';
    button.setAttribute('aria-pressed', String(dark));
    button.textContent = dark ? 'Light' : 'Dark';
    button.setAttribute('aria-label', dark ? 'Switch to the light colour scheme' : 'Switch to the dark colour scheme');
  }
  var themeButton = document.getElementById('theme-button');
  if (themeButton) {
    showScheme(themeButton);
    themeButton.addEventListener('click', function () {
      var next = currentScheme() === 'dark' ? 'light' : 'dark';
      root.dataset.theme = next;
      try { localStorage.setItem('vaeriants-theme', next); } catch (e) { /* private mode: not remembered */ }
      showScheme(themeButton);
    });
    darkQuery.addEventListener('change', function () { showScheme(themeButton); });
  }

  // ---- search ----------------------------------------------------------------------------
  var searchButton = document.getElementById('search-button');
  var searchPanel = document.getElementById('search-panel');
  var searchLoaded = null;
  function loadSearch() {
    if (searchLoaded) return searchLoaded;
    searchLoaded = new Promise(function (resolve, reject) {
      var css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = base + 'pagefind/pagefind-ui.css';
      document.head.appendChild(css);
      var script = document.createElement('script');
      script.src = base + 'pagefind/pagefind-ui.js';
      script.onload = function () {
        /* global PagefindUI */
        new PagefindUI({ element: '#search-box', showSubResults: true, showImages: false, resetStyles: false });
        resolve();
      };
      script.onerror = reject;
      document.head.appendChild(script);
    });
    return searchLoaded;
  }
  function openSearch() {
    searchPanel.hidden = false;
    searchButton.setAttribute('aria-expanded', 'true');
    loadSearch().then(function () {
      var input = searchPanel.querySelector('input');
      if (input) input.focus();
    });
  }
  function closeSearch() {
    searchPanel.hidden = true;
    searchButton.setAttribute('aria-expanded', 'false');
  }
  if (searchButton && searchPanel) {
    searchButton.addEventListener('click', function () { searchPanel.hidden ? openSearch() : closeSearch(); });
  }

  // ---- previews ----------------------------------------------------------------------------
  var preview = document.createElement('div');
  preview.className = 'preview';
  preview.id = 'preview';
  preview.setAttribute('role', 'tooltip');
  preview.hidden = true;
  document.body.appendChild(preview);
  var sectionTitles = null;
  var previewFor = null;
  var lastPointer = 'mouse';
  var tapped = null; // the link whose preview a first tap opened (focus may open it too)

  function loadSectionTitles() {
    if (!sectionTitles) {
      sectionTitles = fetch(base + 'assets/sections.json').then(function (r) { return r.json(); }).catch(function () { return {}; });
    }
    return sectionTitles;
  }
  function targetOnPage(href) {
    if (!href || href.charAt(0) !== '#') return null;
    return document.getElementById(decodeURIComponent(href.slice(1)));
  }
  // Resolves to the preview's HTML for a link, or null when the link has no preview.
  function previewHtml(link) {
    var href = link.getAttribute('href') || '';
    if (link.classList.contains('citation')) {
      var entry = targetOnPage(href);
      return Promise.resolve(entry ? (entry.closest('li') || entry).innerHTML : null);
    }
    if (link.closest('mjx-container') || link.classList.contains('eqref-xref')) {
      var equation = targetOnPage(href);
      var display = equation && equation.closest('mjx-container');
      if (display) return Promise.resolve(display.outerHTML);
      if (link.dataset.preview) return Promise.resolve(link.dataset.preview);
      return Promise.resolve(null);
    }
    var url = new URL(href, location.href);
    if (url.origin !== location.origin || !url.hash || url.pathname === location.pathname) return Promise.resolve(null);
    return loadSectionTitles().then(function (titles) {
      var key = url.pathname.replace(base.replace(/\/$/, ''), '') + url.hash;
      return titles[key] ? titles[key] : null;
    });
  }
  function place(link) {
    var rect = link.getBoundingClientRect();
    preview.style.left = '0px';
    preview.style.top = '0px';
    var width = preview.offsetWidth;
    var left = Math.max(8, Math.min(rect.left, window.innerWidth - width - 8));
    preview.style.left = (window.scrollX + left) + 'px';
    preview.style.top = (window.scrollY + rect.bottom + 6) + 'px';
  }
  function show(link) {
    previewHtml(link).then(function (html) {
      if (!html) return;
      preview.innerHTML = html;
      preview.querySelectorAll('[id]').forEach(function (node) { node.removeAttribute('id'); });
      preview.hidden = false;
      previewFor = link;
      link.setAttribute('aria-describedby', 'preview');
      place(link);
    });
  }
  function hide() {
    if (previewFor) previewFor.removeAttribute('aria-describedby');
    preview.hidden = true;
    previewFor = null;
  }
  var previewable = 'a.citation, mjx-container a, a.eqref-xref, .page-body a[href*=".html#"]';
  document.addEventListener('pointerdown', function (event) { lastPointer = event.pointerType; }, true);
  document.addEventListener('touchstart', function () { lastPointer = 'touch'; }, { capture: true, passive: true });
  document.addEventListener('mouseover', function (event) {
    var link = event.target.closest && event.target.closest(previewable);
    if (link && link !== previewFor && lastPointer === 'mouse') show(link);
  });
  document.addEventListener('mouseout', function (event) {
    var link = event.target.closest && event.target.closest(previewable);
    if (link && !link.contains(event.relatedTarget) && lastPointer === 'mouse') hide();
  });
  document.addEventListener('focusin', function (event) {
    var link = event.target.closest && event.target.closest(previewable);
    if (link) show(link); else hide();
  });
  // On touch screens the first tap shows the preview; a second tap follows the link.
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest(previewable);
    if (!link) { if (!preview.contains(event.target)) hide(); return; }
    if (lastPointer === 'touch' && tapped !== link) {
      event.preventDefault();
      tapped = link;
      show(link);
    }
  });

  // ---- copy buttons on code blocks --------------------------------------------------------------
  document.querySelectorAll('div.highlighter-rouge').forEach(function (block) {
    var code = block.querySelector('pre');
    if (!code || !navigator.clipboard) return;
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'copy-button';
    button.textContent = 'Copy';
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(code.innerText).then(function () {
        button.textContent = 'Copied';
        setTimeout(function () { button.textContent = 'Copy'; }, 1500);
      });
    });
    block.appendChild(button);
  });

  // ---- the outline marks the section being read ----------------------------------------------------
  var outlineLinks = Array.prototype.slice.call(document.querySelectorAll('.outline a'));
  if (outlineLinks.length && 'IntersectionObserver' in window) {
    var headings = outlineLinks.map(function (a) { return targetOnPage(a.getAttribute('href')); }).filter(Boolean);
    var visible = new Set();
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) { entry.isIntersecting ? visible.add(entry.target) : visible.delete(entry.target); });
      var current = headings.filter(function (h) { return h.getBoundingClientRect().top < window.innerHeight * 0.4; }).pop() || headings[0];
      outlineLinks.forEach(function (a) {
        if (a.getAttribute('href') === '#' + current.id) a.setAttribute('aria-current', 'location');
        else a.removeAttribute('aria-current');
      });
    }, { rootMargin: '0px 0px -60% 0px' });
    headings.forEach(function (h) { observer.observe(h); });
  }

  // ---- the sidebar folds away on phones ------------------------------------------------------------
  var sidebar = document.querySelector('.sidebar');
  var toggle = document.querySelector('.sidebar-toggle');
  if (sidebar && toggle) {
    toggle.addEventListener('click', function () {
      var open = sidebar.classList.toggle('open');
      toggle.setAttribute('aria-expanded', String(open));
    });
  }

  // ---- wide equations, tables and code scroll inside their own box: let the keyboard reach them ----
  // Measuring each box at load would lay out every section that content-visibility skips
  // (about 100 ms on a long chapter). So the load only estimates each box's natural width from
  // what the markup says, in ex: a typeset expression from its SVG's attributes, code from its
  // longest line, a table from its longest cells. A box that may be too wide is marked at once;
  // boxes are measured exactly as they near the viewport, and only then lose a needless mark.
  var column = document.querySelector('.page-body');
  var EX_PER_CHARACTER = { code: 1.0, text: 1.1 }; // monospace at 0.88em, and body text, in ex
  function mathWidthEx(box) {
    var svg = box.firstElementChild;
    if (!svg || svg.tagName.toLowerCase() !== 'svg') return 0;
    var width = svg.getAttribute('width') || '';
    var match = /^([\d.]+)ex$/.exec(width) || /min-width:\s*([\d.]+)ex/.exec(svg.getAttribute('style') || '');
    return match ? parseFloat(match[1]) : 0;
  }
  function cellWidthEx(cell) {
    var math = 0;
    var text = cell.textContent.length;
    cell.querySelectorAll('mjx-container').forEach(function (m) {
      math += mathWidthEx(m);
      text -= m.textContent.length; // its assistive MathML
    });
    return math + text * EX_PER_CHARACTER.text + 2; // and the cell's padding
  }
  function naturalWidthEx(box) {
    var tag = box.tagName.toLowerCase();
    if (tag === 'mjx-container') return mathWidthEx(box);
    if (tag === 'pre') {
      var longest = Math.max.apply(null, box.textContent.split('\n').map(function (line) { return line.length; }));
      return longest * EX_PER_CHARACTER.code + 4;
    }
    var widths = [];
    Array.prototype.forEach.call(box.rows, function (row) {
      Array.prototype.forEach.call(row.cells, function (cell, i) { widths[i] = Math.max(widths[i] || 0, cellWidthEx(cell)); });
    });
    return widths.reduce(function (sum, w) { return sum + w; }, 0);
  }
  function measure(box) {
    if (box.scrollWidth > box.clientWidth + 1) box.setAttribute('tabindex', '0');
    else box.removeAttribute('tabindex');
  }
  var nearViewport = 'IntersectionObserver' in window && new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) { if (entry.isIntersecting) measure(entry.target); });
  }, { rootMargin: '100% 0px' });
  function markScrollable() {
    root.dataset.scrollablesMarked = 'true'; // tests wait for it
    if (!column) return;
    var probe = document.createElement('div');
    probe.style.cssText = 'position:absolute;visibility:hidden;width:100ex';
    column.appendChild(probe);
    var columnEx = column.clientWidth / (probe.offsetWidth / 100);
    column.removeChild(probe);
    var boxes = 'mjx-container[display="true"], mjx-container.mjx-wide, table, pre';
    column.querySelectorAll(boxes).forEach(function (box) {
      // 15% of slack: the estimates are rough, and a box in a list or a quote has less room.
      if (naturalWidthEx(box) > 0.85 * columnEx) box.setAttribute('tabindex', '0');
      else box.removeAttribute('tabindex');
      if (nearViewport) nearViewport.observe(box); else measure(box);
    });
  }
  // After the first frame: the layout it needs is then already done.
  requestAnimationFrame(function () { setTimeout(markScrollable, 0); });
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { if (nearViewport) nearViewport.disconnect(); markScrollable(); }, 200);
  });

  // ---- keyboard shortcuts ----------------------------------------------------------------------------
  document.addEventListener('keydown', function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName) || document.activeElement.isContentEditable;
    if (event.key === 'Escape') { hide(); if (searchPanel && !searchPanel.hidden) closeSearch(); return; }
    if (typing) return;
    var rel = { n: 'next', p: 'prev' }[event.key];
    if (rel) {
      var link = document.querySelector('a[rel="' + rel + '"]');
      if (link) location.href = link.href;
    } else if (event.key === '/' && searchButton) {
      event.preventDefault();
      openSearch();
    }
  });
})();
