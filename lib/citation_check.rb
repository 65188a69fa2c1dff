# frozen_string_literal: true

require "bibtex"

# Checks the citations of a site's sources against its bibliography:
#   - every BibTeX entry parses and has the fields its type needs (errors name file and line);
#   - every key that a `{% cite %}` tag names has an entry (errors name page, line and key);
#   - no built page shows jekyll-scholar's "(missing reference)" text;
#   - every entry is cited somewhere: the bibliography page lists exactly the works the
#     monograph cites (errors name file, line and key).
module Vaeriants
  class CitationCheck
    REQUIRED_FIELDS = {
      "article" => %w[author title journal year],
      "inproceedings" => %w[author title booktitle year],
      "incollection" => %w[author title booktitle publisher year],
      "book" => %w[title publisher year],
      "misc" => %w[author title year],
      "phdthesis" => %w[author title school year],
      "techreport" => %w[author title institution year],
    }.freeze
    ENTRY_START = /^\s*@(\w+)\s*\{\s*([^,\s]*)\s*,?/.freeze
    CITE_TAG = /\{%-?\s*cite\s+(.+?)\s*-?%\}/.freeze

    attr_reader :errors, :notes

    def initialize(source_dir, site_dir = nil)
      @source = source_dir
      @site = site_dir
      @errors = []
      @notes = []
      @declared_at = {}
    end

    # With a site directory, checks only the built pages; without, the sources.
    def run
      if @site
        check_built_pages
      else
        keys = check_bibliography
        (keys.keys - check_cite_tags(keys)).sort.each do |key|
          @errors << "#{@declared_at[key]}: BibTeX entry '#{key}' is cited by no page, yet the bibliography " \
                     "would list it: cite it with {% cite #{key} %} or remove the entry"
        end
      end
      self
    end

    def ok?
      errors.empty?
    end

    private

    def bib_files
      Dir.glob(File.join(@source, "_bibliography", "*.bib")).sort
    end

    # Returns {key => type} of the entries that parse.
    def check_bibliography
      keys = {}
      bib_files.each do |path|
        text = File.read(path)
        declared = text.each_line.with_index(1).filter_map do |line, number|
          m = line.match(ENTRY_START)
          next unless m && m[1].downcase != "comment" && m[1].downcase != "string" && m[1].downcase != "preamble"

          { type: m[1].downcase, key: m[2], line: number }
        end
        parsed = parse(path, text)
        next unless parsed

        declared.each do |decl|
          where = "#{relative(path)}:#{decl[:line]}"
          entry = parsed[decl[:key]]
          if decl[:key].empty? || entry.nil? || !entry.is_a?(BibTeX::Entry)
            @errors << "#{where}: BibTeX entry '#{decl[:key]}' does not parse (check its braces, commas and quotes)"
            next
          end
          if keys.key?(decl[:key])
            @errors << "#{where}: duplicate BibTeX key '#{decl[:key]}'"
            next
          end
          keys[decl[:key]] = decl[:type]
          @declared_at[decl[:key]] = where
          missing = REQUIRED_FIELDS.fetch(decl[:type], %w[title year]).reject { |field| entry.has_field?(field.to_sym) }
          missing.delete("author") if decl[:type] == "book" && entry.has_field?(:editor)
          unless missing.empty?
            @errors << "#{where}: @#{decl[:type]}{#{decl[:key]}} lacks #{missing.join(', ')}"
          end
        end
      end
      keys
    end

    def parse(path, text)
      BibTeX.parse(text, filter: nil, strict: true)
    rescue StandardError => e
      line = e.message[/line (\d+)/, 1]
      @errors << "#{relative(path)}#{line ? ":#{line}" : ''}: BibTeX does not parse: #{e.message.lines.first&.strip}"
      nil
    end

    def source_pages
      patterns = %w[*.md *.html chapters/**/*.md _posts/*.md _includes/**/*.html _layouts/**/*.html]
      patterns.flat_map { |pattern| Dir.glob(File.join(@source, pattern)) }.uniq.reject { |p| File.basename(p) == "README.md" }
    end

    def check_cite_tags(keys)
      cited = []
      source_pages.each do |path|
        File.read(path).each_line.with_index(1) do |line, number|
          line.scan(CITE_TAG).each do |(arguments)|
            cite_keys(arguments).each do |key|
              cited << key
              next if keys.key?(key)

              @errors << "#{relative(path)}:#{number}: citation key '#{key}' has no entry in _bibliography/ (add it, or fix the key)"
            end
          end
        end
      end
      cited.uniq
    end

    def cite_keys(arguments)
      skip_next = false
      arguments.split.each_with_object([]) do |word, keys|
        if skip_next then skip_next = false
        elsif word.start_with?("-") then skip_next = !word.include?("=")
        else keys << word
        end
      end
    end

    def check_built_pages
      Dir.glob(File.join(@site, "**", "*.html")).sort.each do |path|
        count = File.read(path).scan("(missing reference)").size
        next if count.zero?

        @errors << "#{relative(path, @site)}: shows '(missing reference)' #{count} time(s): a cite tag names a key the bibliography lacks"
      end
    end

    def relative(path, base = @source)
      path.delete_prefix(File.join(base, ""))
    end
  end
end
