"""vaeriants: the Python companion of the monograph.

It makes every figure of the monograph and checks its derivations numerically. Modules are
named by topic (`distributions`, `data`, `vae`, ...); figure scripts live in
`vaeriants.figures`, one module per figure.
"""
