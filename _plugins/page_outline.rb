# frozen_string_literal: true

require "json"

# The outline of a page: its h2 and h3 headings, read from the converted HTML so that it always
# matches the page.
#   - Sets `page.outline` ({"id", "title", "level"} each) for the chapter layout's "On this page".
#   - Gives each heading an anchor link (a "#" after its text) for readers who want to share it.
#   - After the site is written, writes assets/sections.json: "url#id" => "Chapter N: section
#     title", which the previews of section links read.
module Vaeriants
  module PageOutline
    HEADING = %r{<h([23])\s+id="([^"]+)"([^>]*)>(.*?)</h\1>}m.freeze
    LAYOUTS = %w[chapter page].freeze

    module_function

    def headings(html)
      html.scan(HEADING).map do |level, id, _attributes, title|
        { "id" => id, "title" => title.strip, "level" => level.to_i }
      end
    end

    def with_anchor_links(html)
      html.gsub(HEADING) do
        level, id, attributes, title = Regexp.last_match.captures
        %(<h#{level} id="#{id}"#{attributes}>#{title}<a class="heading-anchor" href="##{id}" aria-label="Link to this section">#</a></h#{level}>)
      end
    end

    def section_titles(site)
      site.pages.each_with_object({}) do |page, titles|
        next unless page.data["outline"]

        prefix = page.data["chapter"] ? "Chapter #{page.data['chapter']}: " : ""
        page.data["outline"].each do |heading|
          text = heading["title"].gsub(/<[^>]+>/, "").strip
          titles["#{page.url}##{heading['id']}"] = "#{prefix}#{text}"
        end
      end
    end
  end
end

# The layout reads `page` from the render payload, which is built before conversion: keep a
# handle on it so that the outline found after conversion reaches the layout.
Jekyll::Hooks.register :pages, :pre_render do |page, payload|
  page.instance_variable_set(:@vaeriants_payload, payload)
end

Jekyll::Hooks.register :pages, :post_convert do |page|
  next unless Vaeriants::PageOutline::LAYOUTS.include?(page.data["layout"])

  page.data["outline"] = Vaeriants::PageOutline.headings(page.content)
  payload = page.instance_variable_get(:@vaeriants_payload)
  payload["page"]["outline"] = page.data["outline"] if payload
  page.content = Vaeriants::PageOutline.with_anchor_links(page.content)
end

Jekyll::Hooks.register :site, :post_write do |site|
  path = File.join(site.dest, "assets", "sections.json")
  FileUtils.mkdir_p(File.dirname(path))
  File.write(path, JSON.generate(Vaeriants::PageOutline.section_titles(site)))
end
