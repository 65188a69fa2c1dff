# frozen_string_literal: true

# Wraps the body of each h2 section of a chapter (everything between its heading and the next
# h2) in <div class="section-flow">, which the stylesheet renders with content-visibility: auto.
# The browser then styles and lays out only the sections near the viewport: a long chapter's
# tens of thousands of typeset-math elements would otherwise cost about a second of main-thread
# work at load on a slow CPU. Each wrapper carries an estimate of its height, so the scroll bar
# is close to right before the section is first shown; the browser remembers the true height
# after that. The first section is always rendered: it is usually on the first screen.
module Vaeriants
  module SectionFlow
    H2 = /(?=<h2[\s>])/.freeze
    LINE_HEIGHT = 28.8     # px: 1.125rem text with a line height of 1.6
    CHARACTERS_A_LINE = 72 # in the 40rem column
    DISPLAY_LINE = 44      # px: one line of a displayed equation, with its padding
    FIGURE = 420           # px: a figure with its caption
    CODE_LINE = 21         # px
    BLOCK_GAP = 18         # px between blocks

    module_function

    def wrap(html)
      before_first, *sections = html.split(H2)
      return html if sections.empty?

      flows = sections.each_with_index.map do |section, index|
        heading_end = section.index("</h2>") + "</h2>".length
        heading = section[0...heading_end]
        body = section[heading_end..]
        classes = index.zero? ? "section-flow section-flow-first" : "section-flow"
        %(#{heading}\n<div class="#{classes}" style="contain-intrinsic-size: auto #{estimated_height(body).round}px">#{body}</div>\n)
      end
      before_first + flows.join
    end

    # A rough height of a section's body in the desktop column, from its HTML before the math
    # is typeset.
    def estimated_height(body)
      displays = body.scan(/\\\[(.*?)\\\]/m).map(&:first)
      display_lines = displays.sum { |tex| tex.scan("\\\\").length + 1 }
      code_lines = body.scan(%r{<pre[^>]*>(.*?)</pre>}m).sum { |(code)| code.count("\n") + 1 }
      text = body.gsub(/\\\[.*?\\\]/m, "").gsub(%r{<pre[^>]*>.*?</pre>}m, "").gsub(/<[^>]+>/, "")
      blocks = body.scan(/<(?:p|li|figure|table|tr|pre|h3)[\s>]/).length + displays.length
      text.length / CHARACTERS_A_LINE * LINE_HEIGHT + display_lines * DISPLAY_LINE +
        body.scan("<figure").length * FIGURE + code_lines * CODE_LINE + blocks * BLOCK_GAP
    end
  end
end

# After the outline (priority normal) has read the headings and given them anchor links.
Jekyll::Hooks.register :pages, :post_convert, priority: :low do |page|
  next unless page.data["layout"] == "chapter"

  page.content = Vaeriants::SectionFlow.wrap(page.content)
end
