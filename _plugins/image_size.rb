# frozen_string_literal: true

# The `image_size` filter: `{{ "/assets/figures/x.png" | image_size }}` gives
# `width="W" height="H"` read from the file (PNG header; an SVG's width and height, or its viewBox), so that the
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
        root = File.read(path, 4096)[/<svg\b[^>]*>/m].to_s
        width, height = %w[width height].map { |name| css_pixels(root[/\s#{name}="([^"]+)"/, 1]) }
        return [width, height] if width && height

        root[/viewBox="([^"]+)"/, 1]&.split(/[\s,]+/)&.map(&:to_f)&.last(2)
      end
    end

    # An SVG length in CSS pixels (matplotlib writes points: 1pt = 4/3 px).
    UNITS = { "" => 1.0, "px" => 1.0, "pt" => 4.0 / 3, "in" => 96.0, "cm" => 96 / 2.54, "mm" => 9.6 / 2.54 }.freeze

    def css_pixels(length)
      m = length.to_s.match(/\A\s*([\d.]+)\s*(px|pt|in|cm|mm)?\s*\z/)
      m && m[1].to_f * UNITS.fetch(m[2].to_s)
    end
  end
end

Liquid::Template.register_filter(Vaeriants::ImageSize)
