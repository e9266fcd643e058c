"""A/B testing for model rollouts: analysis, decision, planning, simulation.

- :mod:`harness.ab.api`: ``analyze_experiment`` (the event store, aggregated in SQL),
  ``analyze_events_file`` (CSV/Parquet), ``analyze_summary`` (per-variant sufficient statistics),
  ``to_report`` (the ``harness ab analyze --json`` object).
- :mod:`harness.ab.config`: metrics (proportion, mean, ratio, quantile), roles, margins, options.
- :mod:`harness.ab.analysis` / :mod:`harness.ab.decision`: SRM, effects, corrections, guardrails,
  then ``ship`` / ``rollback`` / ``keep_running`` with reasons.
- :mod:`harness.ab.planning`: units and days for a minimum detectable effect.
- :mod:`harness.ab.simulate`: realistic simulated experiments (store or file).

The statistics themselves are pure functions in :mod:`harness.stats` (``srm``, ``effects``,
``sequential``, ``cuped``, ``bayes``, ``ab_power``). Nothing is imported here so that the CLI stays fast.
"""
