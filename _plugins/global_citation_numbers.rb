# frozen_string_literal: true

require "bibtex"
require "jekyll/scholar"

# One citation numbering for the whole monograph.
#
# jekyll-scholar numbers citations per page: the first paper cited on a page is [1] there.
# This plugin numbers every entry of the bibliography once, in reading order (the home page,
# then the chapters in the order of _data/toc.yml, then every other page), by the first
# `{% cite %}` of each key; entries cited nowhere follow in the order of the .bib file. Cite
# tags and bibliography lists then print these numbers, so a paper is [n] on every page and
# on the bibliography page.
module Vaeriants
  module CitationNumbers
    CITE_TAG = /\{%-?\s*cite\s+(.+?)\s*-?%\}/m.freeze

    module_function

    # The keys that a Liquid `cite` tag names, without its options (`--locator 3`, `-l 3`).
    def keys_in(text)
      text.scan(CITE_TAG).flat_map do |(arguments)|
        words = arguments.split
        keys = []
        skip_next = false
        words.each do |word|
          if skip_next then skip_next = false
          elsif word.start_with?("-") then skip_next = !word.include?("=")
          else keys << word
          end
        end
        keys
      end
    end

    # Pages in reading order: the home page, the chapters in contents order, then the rest.
    def pages_in_reading_order(site)
      chapter_urls = Array(site.data["toc"]).map { |chapter| chapter["url"] }
      home = site.pages.select { |page| page.url == "/" }
      chapters = chapter_urls.filter_map { |url| site.pages.find { |page| page.url == url } }
      rest = (site.pages - home - chapters).sort_by(&:url) + site.posts.docs
      home + chapters + rest
    end

    def bibliography_keys(site)
      config = Jekyll::Scholar.defaults.merge(site.config["scholar"] || {})
      path = File.join(site.source, config["source"], config["bibliography"])
      BibTeX.open(path, filter: nil).data.select { |item| item.is_a?(BibTeX::Entry) }.map { |entry| entry.key.to_s }
    end

    # CSL rendering (citeproc) takes most of a build: about 30 ms a citation and 4 ms a
    # reference. Its output depends only on the style, the number and the entry, so it is kept
    # for the life of the process: across the pages of a build, and across the rebuilds of
    # `jekyll serve`. An edited entry has a new key here and is rendered afresh.
    RENDERED = {} # rubocop:disable Style/MutableConstant

    def rendered(key)
      RENDERED[key] ||= yield
    end

    def compute(site)
      order = pages_in_reading_order(site).flat_map { |page| keys_in(page.content.to_s) }
      order += bibliography_keys(site)
      order.uniq.each_with_index.to_h { |key, index| [key, index + 1] }
    end
  end

  # Computes the numbers before any page is rendered.
  class CitationNumberGenerator < Jekyll::Generator
    priority :highest

    def generate(site)
      site.config["vaeriants_citation_numbers"] = CitationNumbers.compute(site)
    end
  end
end

module Jekyll
  class Scholar
    module Utilities
      alias_method :per_page_citation_number, :citation_number
      alias_method :scholar_render_bibliography, :render_bibliography
      alias_method :scholar_cite, :cite
      alias_method :scholar_render_citation, :render_citation

      def global_citation_numbers
        site.config["vaeriants_citation_numbers"] || {}
      end

      def citation_number(key)
        global_citation_numbers[key] || per_page_citation_number(key)
      end

      # jekyll-scholar caches a rendered citation across pages (with separate_links), and only
      # a fresh rendering records the key as cited on the page: record every key here, so that
      # each page's reference list holds all the works it cites.
      def cite(keys)
        keys.each { |key| cited_keys << key if bibliography.key?(key) }
        cited_keys.uniq!
        scholar_cite(keys)
      end

      def render_bibliography(entry, index = nil)
        number = global_citation_numbers[entry.key.to_s] || index
        Vaeriants::CitationNumbers.rendered([:reference, style, number, entry.to_s]) do
          scholar_render_bibliography(entry, number)
        end
      end

      # One citation without a locator renders the same on every page: render it once.
      def render_citation(items)
        return scholar_render_citation(items) unless items.length == 1 && Array(locators).compact.empty?

        entry = items.first
        cited_keys << entry.key
        cited_keys.uniq!
        Vaeriants::CitationNumbers.rendered([:citation, style, citation_number(entry.key), entry.to_s]) do
          scholar_render_citation(items)
        end
      end
    end

    # A tag without arguments that lists entries of the bibliography by their global numbers;
    # a subclass says which entries (listed_entries).
    class NumberedReferencesTag < BibliographyTag
      def initialize(tag_name, _arguments, tokens)
        super(tag_name, "", tokens)
      end

      def cited_entries
        numbers = global_citation_numbers
        listed_entries.sort_by { |entry| numbers.fetch(entry.key.to_s, Float::INFINITY) }
      end
    end

    # {% references_cited %}: the entries cited on this page. Place it after the page's content
    # (the chapter layout does), since it lists what the content's cite tags recorded.
    class CitedReferencesTag < NumberedReferencesTag
      def listed_entries
        cited = cited_keys.uniq
        entries.select { |entry| cited.include?(entry.key.to_s) }
      end
    end

    # {% references_all %}: every entry of the bibliography.
    class AllReferencesTag < NumberedReferencesTag
      def listed_entries
        entries
      end
    end
  end
end

Liquid::Template.register_tag("references_cited", Jekyll::Scholar::CitedReferencesTag)
Liquid::Template.register_tag("references_all", Jekyll::Scholar::AllReferencesTag)
