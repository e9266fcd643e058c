"""The code that writes the bundled sets: one generator module per set plus shared text helpers.

``python -m evalsets.generate`` drives them; nothing at run time imports them (the harness reads the
generated files through :func:`evalsets.path`).
"""
