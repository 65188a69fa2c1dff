# frozen_string_literal: true

require "open3"

# Builds the full-text search index with pagefind (from its npm package) after the site is
# written and its math typeset, so that `jekyll build` and `jekyll serve` both index it.
# Pages mark what is indexed with data-pagefind-body (the article) and leave math out
# (its assistive MathML would read as noise in results).
Jekyll::Hooks.register :site, :post_write, priority: :low do |site|
  pagefind = File.expand_path("../node_modules/.bin/pagefind", __dir__)
  unless File.executable?(pagefind)
    raise Jekyll::Errors::FatalException, "The search index needs pagefind: run script/serve or script/test (npm ci installs it)."
  end

  output, status = Open3.capture2e(pagefind, "--site", site.dest, "--exclude-selectors", "mjx-container", "--silent")
  output.each_line { |line| Jekyll.logger.info("Search:", line.chomp) }
  raise Jekyll::Errors::FatalException, "Building the search index failed (see above)." unless status.success?

  Jekyll.logger.info("Search:", "index written to #{File.join(site.dest, 'pagefind')}")
end
