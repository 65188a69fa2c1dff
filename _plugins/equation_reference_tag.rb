# frozen_string_literal: true

# {% eqref eq:2-elbo-gap %}: a link to an equation of any chapter, by its \label. Inside one
# chapter, write $$\eqref{...}$$ instead. The tag writes a placeholder link; the math
# typesetting (script/typeset-math.mjs) gives it its target page and number, as (2.3), and
# fails the build on a label that no page defines.
module Vaeriants
  class EquationReferenceTag < Liquid::Tag
    LABEL = /\A[\w:.-]+\z/.freeze

    def initialize(tag_name, markup, tokens)
      super
      @label = markup.strip
      raise Liquid::SyntaxError, "eqref takes one equation label, as {% eqref eq:2-elbo %}; got '#{@label}'" unless @label.match?(LABEL)
    end

    def render(_context)
      %(<a class="eqref-xref" data-label="#{@label}" href="#">(#{@label})</a>)
    end
  end
end

Liquid::Template.register_tag("eqref", Vaeriants::EquationReferenceTag)
