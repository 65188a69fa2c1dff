# frozen_string_literal: true

require "open3"

# Typesets every page's math at build time, after Jekyll has written the site, by running
# script/typeset-math.mjs (MathJax in node) over the written pages. Pages then carry SVG math
# with assistive MathML and need no script. A TeX error, an undefined \eqref or math that
# kramdown left untypeset fails the build with the page and the fragment named; under
# `jekyll serve` the error is printed and the server keeps watching.
# Setting: vaeriants.typeset_math (default true) in _config.yml.
module Vaeriants
  module TypesetMath
    SCRIPT = File.expand_path("../script/typeset-math.mjs", __dir__)

    module_function

    def run(site)
      command = ["node", SCRIPT, site.dest]
      output, status = Open3.capture2e({ "VAERIANTS_SOURCE" => site.source, "VAERIANTS_BASEURL" => site.baseurl.to_s }, *command)
      output.each_line { |line| Jekyll.logger.info("Math:", line.chomp) }
      return if status.success?

      raise Jekyll::Errors::FatalException, "Math typesetting failed (see the lines above, each names the page and the TeX)."
    rescue Errno::ENOENT
      raise Jekyll::Errors::FatalException, "Math typesetting needs node (Node 20) and `npm ci`: run script/serve or script/test, which install them."
    end
  end
end

Jekyll::Hooks.register :site, :post_write do |site|
  next if site.config.fetch("vaeriants", {}).fetch("typeset_math", true) == false

  Vaeriants::TypesetMath.run(site)
end
