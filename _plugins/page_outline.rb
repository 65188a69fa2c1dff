# frozen_string_literal: true

# The in-page outline of a chapter: its h2 and h3 headings, read from the converted HTML so
# that the outline always matches the page. Sets `page.outline` to a list of
# {"id", "title", "level"} before the layout renders it.
module Vaeriants
  module PageOutline
    HEADING = %r{<h([23])\s+id="([^"]+)"[^>]*>(.*?)</h\1>}m.freeze

    module_function

    def headings(html)
      html.scan(HEADING).map do |level, id, title|
        { "id" => id, "title" => title.strip, "level" => level.to_i }
      end
    end
  end
end

Jekyll::Hooks.register :pages, :post_convert do |page|
  next unless page.data["layout"] == "chapter"

  page.data["outline"] = Vaeriants::PageOutline.headings(page.content)
end
