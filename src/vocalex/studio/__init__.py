"""vocalex studio: a local web page to separate files, listen to the stems, mix them and run live.

``server`` starts it (``vocalex studio``), ``app`` is the ASGI app, ``jobs`` the separation queue,
``safety`` the token, host and name checks, and ``library`` the one module that calls the rest of vocalex.
The page itself (``static/``) is plain HTML, CSS and JavaScript: no build step.
"""
