"""Maximum-entropy inverse reinforcement learning (Ziebart et al. 2008) on sparse graphs.

Modules: :mod:`~maxentrl.irl.graph` (the deterministic MDP as an edge list),
:mod:`~maxentrl.irl.maxent` (Algorithm 1, likelihood and learners),
:mod:`~maxentrl.irl.enumerate` (brute-force paths), :mod:`~maxentrl.irl.baselines`
(action-based model, maximum-margin planning, time-based routing),
:mod:`~maxentrl.irl.destination` (Bayes-rule destination posterior),
:mod:`~maxentrl.irl.roads` (the road network and its simulated drivers),
:mod:`~maxentrl.irl.city` (a synthetic grid city with an express road) and
:mod:`~maxentrl.irl.evaluation` (Table 1: the five route models compared on withheld trips).
"""
