# frozen_string_literal: true

require "set"
require "uri"

# Assembles the print edition, _site/print.html, from pages that are already built and typeset:
# the home page's introduction, every chapter's article in the order of _data/toc.yml and the
# bibliography, poured into the frame that _layouts/print.html wrote. Nothing is typeset
# again, so this takes a fraction of a second in every build, `jekyll serve` rebuilds included.
#
# Every chapter keeps its own equation numbers, sections and reference list, so ids would
# collide on one page: within chapter N every id becomes cN-id, and every link is made to work
# in the page. A link within the chapter or to another chapter's section points to that
# section here (/chapters/02-x.html#sec -> #c2-sec); a link to a chapter page points to its
# start (#chapter-2); a link to the bibliography to its entry (#bib-key); any other link
# becomes site-absolute. The typeset SVGs stay as they are (equation numbers already carry the
# chapter, (2.7)); the glyphs of MathJax's font cache, which every page defines under the same
# ids, are defined once. Links, buttons and navigation that make no sense on paper are left out.
#
# Runs after the math is typeset (_plugins/typeset_math.rb, priority :normal = 20) and before
# the search index (_plugins/search_index.rb, :low = 10), which leaves this page out anyway (it
# has no data-pagefind-body). Does nothing on a site without a print.html of layout print.
module Vaeriants
  module PrintEdition
    PRIORITY = 15
    MARK = "<!--print-edition:%s-->"
    GLYPH_CACHE = 'id="MJX-SVG-global-cache"'
    GLYPH = %r{<path id="([^"]+)"[^>]*>(?:</path>)?}.freeze
    MATH_STYLES = %r{<style id="MJX-SVG-styles">.*?</style>}m.freeze
    # What a printed page has no use for: the edit link, the previous/next links, the "#" next
    # to headings, the scripts that only let the parser yield. (The outline and the sidebar
    # sit outside the article; copy buttons are added by reader.js, which the print edition
    # does not load.)
    DROPPED = [
      %r{<p class="edit-link">.*?</p>}m,
      %r{<nav class="chapter-nav".*?</nav>}m,
      %r{<a class="heading-anchor"[^>]*>.*?</a>}m,
      %r{<script class="parser-yield">0</script>}, # lib/parse-order.mjs
    ].freeze
    # Attributes that name ids, and links (href, src; a glyph reference, href="#MJX-...", is
    # left alone by `link`), in one pattern so that the 8 MB are read once.
    ATTRIBUTES = /(\s)(id|href|src|for|aria-labelledby|aria-describedby|aria-controls)="([^"]*)"/.freeze
    ID_NAMES = %w[id for aria-labelledby aria-describedby aria-controls].freeze
    SCHEME = /\A[a-z][a-z0-9+.-]*:/i.freeze

    # One part of the print edition: the article of one built page, its ids prefixed.
    Part = Struct.new(:url, :prefix, :start, :html, :ids, :aliases, keyword_init: true)

    module_function

    def run(site)
      path = File.join(site.dest, "print.html")
      return unless File.file?(path)

      frame = File.read(path)
      return unless frame.include?(format(MARK, "chapters"))

      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      base = site.config["baseurl"].to_s.chomp("/")
      glyphs = {}
      styles = nil
      read = lambda do |url|
        file = File.join(site.dest, url.end_with?("/") ? "#{url}index.html" : url)
        unless File.file?(file)
          Jekyll.logger.warn("Print:", "#{url} is not built; the print edition leaves it out")
          return nil
        end
        html = File.read(file)
        collect_glyphs(html, glyphs)
        styles ||= html[MATH_STYLES]
        article = article_of(html) or return nil
        article = DROPPED.reduce(article) { |text, pattern| text.gsub(pattern, "") }.gsub(' loading="lazy"', "")
        # One chapter's references among eight: a landmark named "References" eight times over
        # would be no landmark; as a plain section it keeps its heading in the outline.
        fit_wide_displays(article.gsub(REFERENCES_LANDMARK, '<section class="chapter-references">'))
      end

      parts = {}
      chapters = Array(site.data["toc"]).filter_map do |chapter|
        html = read.call(chapter["url"]) or next
        parts[chapter["url"]] = Part.new(url: chapter["url"], prefix: "c#{chapter['number']}",
                                         start: "chapter-#{chapter['number']}", html: html)
      end
      bibliography = read.call("/bibliography.html")
      if bibliography
        parts["/bibliography.html"] = Part.new(url: "/bibliography.html", prefix: "bib", start: "bibliography", html: bibliography)
      end
      home = read.call("/")
      introduction = home && home[%r{<h2 id="introduction".*?(?=<h2 id="(?:cite|contents)")}m]
      parts["/"] = Part.new(url: "/", prefix: "home", html: introduction) if introduction

      parts.each_value { |part| part.ids = part.html.scan(/\sid="([^"]*)"/).flatten.to_set }
      if parts["/"]
        # The introduction's citations and its link to the contents point to this page's own.
        parts["/"].aliases = { "contents" => "contents" }
        parts["/bibliography.html"]&.ids&.each { |id| parts["/"].aliases[id] = "bib-#{id}" }
      end
      parts.each_value { |part| part.html = rewrite(part, parts, base) }

      body = chapters.map do |part|
        %(<section class="print-chapter" id="#{part.start}">\n#{part.html}\n</section>)
      end
      filled = {
        "styles" => styles.to_s,
        "introduction" => parts["/"] ? %(<section class="print-introduction">\n#{parts['/'].html}\n</section>) : "",
        "chapters" => body.join("\n"),
        "bibliography" => bibliography ? %(<section class="print-chapter print-bibliography" id="bibliography">\n#{parts['/bibliography.html'].html}\n</section>) : "",
        "glyphs" => glyphs.empty? ? "" : %(<svg style="display: none;" id="MJX-SVG-global-cache"><defs>#{glyphs.values.join}</defs></svg>),
      }
      output = frame.gsub(/<!--print-edition:(\w+)-->/) { filled.fetch(Regexp.last_match(1), "") }
      File.write(path, output)
      elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
      Jekyll.logger.info("Print:", format("print.html assembled from %d chapters in %.0f ms (%.1f MB)",
                                          chapters.size, elapsed * 1000, output.bytesize / 1e6))
    end

    REFERENCES_LANDMARK = '<section class="chapter-references" aria-labelledby="references">'
    # Paper cannot scroll, and this page loads no script that could make a scrolling equation
    # reachable by keyboard: a displayed equation wider than the column (its SVG's width, or
    # the min-width of a numbered one, in ex) is shrunk to fit with CSS zoom.
    COLUMN_EX = 60.0 # the 40rem column holds about 68ex of the body font; A4 a little more
    DISPLAY = /<mjx-container([^>]*?) display="true"([^>]*?) style="([^"]*)"><svg([^>]*)>/.freeze

    def fit_wide_displays(html)
      html.gsub(DISPLAY) do
        whole = Regexp.last_match(0)
        before, after, style, svg = Regexp.last_match.captures
        width = svg[/\swidth="([\d.]+)ex"/, 1] || svg[/min-width:\s*([\d.]+)ex/, 1]
        next whole unless width && width.to_f > COLUMN_EX

        zoom = (COLUMN_EX / width.to_f).round(3)
        %(<mjx-container#{before} display="true"#{after} style="#{style} zoom: #{zoom};"><svg#{svg}>)
      end
    end

    # The inside of a page's <article> (string search: a regular expression over the whole
    # page takes longer than everything else here).
    def article_of(html)
      start = html.index("<article") or return nil
      start = html.index(">", start) + 1
      finish = html.rindex("</article>") or return nil
      html[start...finish]
    end

    # The glyphs of MathJax's font cache (an <svg> at the start of the page's body), by id.
    def collect_glyphs(html, glyphs)
      at = html.index(GLYPH_CACHE) or return
      finish = html.index("</defs>", at) or return
      html[at...finish].scan(GLYPH) { glyphs[Regexp.last_match(1)] ||= Regexp.last_match(0) }
    end

    # The part's HTML with its ids prefixed and its links pointing into the print edition.
    def rewrite(part, parts, base)
      part.html.gsub(ATTRIBUTES) do
        space, name, value = Regexp.last_match.captures
        value = if ID_NAMES.include?(name) then value.split.map { |id| "#{part.prefix}-#{id}" }.join(" ")
                elsif name == "href" then link(value, part, parts, base)
                else site_absolute(value, part.url, base)
                end
        %(#{space}#{name}="#{value}")
      end
    end

    # Where a link of the part points in the print edition.
    def link(href, part, parts, base)
      return href if href.match?(SCHEME)
      return href if href.start_with?("#MJX-") # a glyph of the font cache, defined once for the page

      path, hash = href.split("#", 2)
      path = path.empty? ? part.url : resolve(path, part.url, base)
      return href unless path

      path = "/" if path == "/index.html"
      target = parts[path]
      if target && (hash.nil? || hash.empty?)
        return "##{target.start}" if target.start
      elsif target && target.ids.include?(hash)
        return "##{target.prefix}-#{hash}"
      elsif target&.aliases&.key?(hash)
        return "##{target.aliases[hash]}"
      end
      "#{base}#{path}#{hash ? "##{hash}" : ''}"
    end

    def site_absolute(src, page_url, base)
      return src if src.match?(SCHEME) || src.start_with?("/")

      path = resolve(src, page_url, base)
      path ? "#{base}#{path}" : src
    end

    # A link's path relative to the site (without baseurl), or nil if it cannot be read.
    def resolve(path, page_url, base)
      if path.start_with?("/")
        path = path.delete_prefix(base) if !base.empty? && path.start_with?("#{base}/")
        return path
      end
      URI.join("https://site#{page_url}", path).path
    rescue URI::Error
      nil
    end
  end
end

Jekyll::Hooks.register :site, :post_write, priority: Vaeriants::PrintEdition::PRIORITY do |site|
  Vaeriants::PrintEdition.run(site)
end
