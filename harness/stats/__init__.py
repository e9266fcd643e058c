"""Statistics as pure functions over arrays or sufficient statistics (scipy/statsmodels underneath).

Nothing here touches the database or a model. Offline evaluation statistics (intervals, paired
tests, non-inferiority, planning) and online A/B statistics (SRM, effects, sequential tests) live in
small modules side by side; :mod:`harness.stats.multiple` is shared by both.
"""
