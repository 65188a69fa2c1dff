# frozen_string_literal: true

# A page's one-line summary (front matter `summary`) is also its description for search
# engines and social cards (jekyll-seo-tag reads `description`), unless the page sets its own.
module Vaeriants
  class SummaryDescription < Jekyll::Generator
    def generate(site)
      site.pages.each do |page|
        summary = page.data["summary"]
        page.data["description"] ||= summary if summary.is_a?(String) && !summary.strip.empty?
      end
    end
  end
end
