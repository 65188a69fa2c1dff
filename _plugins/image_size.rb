# frozen_string_literal: true

# The `image_size` filter: `{{ "/assets/figures/x.png" | image_size }}` gives
# `width="W" height="H"` read from the file (PNG header, or an SVG's viewBox), so that the
# browser reserves the figure's space before it loads and the text never moves. A missing or
# unreadable file gives an empty string; html-proofer then reports the missing image.
module Vaeriants
  module ImageSize
    def image_size(src)
      site = @context.registers[:site]
      path = File.join(site.source, src.to_s.delete_prefix(site.config["baseurl"].to_s))
      width, height = dimensions(path)
      width ? %(width="#{width.round}" height="#{height.round}") : ""
    end

    private

    def dimensions(path)
      return unless File.file?(path)

      case File.extname(path).downcase
      when ".png"
        File.binread(path, 24, 16)&.unpack("NN")
      when ".svg"
        box = File.read(path, 4096)[/viewBox="([^"]+)"/, 1]
        box&.split(/[\s,]+/)&.map(&:to_f)&.last(2)
      end
    end
  end
end

Liquid::Template.register_filter(Vaeriants::ImageSize)
