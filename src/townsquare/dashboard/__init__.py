"""The live dashboard (``townsquare dashboard``): a run as it goes, a finished run or a
sweep in the browser, and new runs started, paused, stepped and resumed from the page.
Needs the ``dashboard`` extra (Dash)."""
