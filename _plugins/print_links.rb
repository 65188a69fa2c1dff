# frozen_string_literal: true

# The `print_links` filter: rewrites the links of a chapter's HTML so that they work inside
# the print edition, where every chapter sits on one page. A link to a chapter's section
# becomes an in-page link to that section; a link to a chapter becomes a link to its start
# (#chapter-N); any other relative link becomes a site-absolute one.
module Vaeriants
  module PrintLinks
    HREF = /href="([^"#][^"]*)"/.freeze

    def print_links(html, page_url = "/chapters/")
      site = @context.registers[:site]
      chapters = Array(site.data["toc"]).to_h { |chapter| [chapter["url"], chapter["number"]] }
      base = site.config["baseurl"].to_s
      html.to_s.gsub(HREF) do
        href = Regexp.last_match(1)
        next %(href="#{href}") if href.match?(%r{\A[a-z]+:}i) # http:, https:, mailto:

        path, hash = href.split("#", 2)
        absolute = path.start_with?("/") ? path.delete_prefix(base) : URI.join("https://site#{page_url}", path).path
        if chapters.key?(absolute)
          %(href="##{hash || "chapter-#{chapters[absolute]}"}")
        else
          %(href="#{base}#{absolute}#{hash ? "##{hash}" : ''}")
        end
      end
    end
  end
end

Liquid::Template.register_filter(Vaeriants::PrintLinks)
