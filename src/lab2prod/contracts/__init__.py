"""Data contracts: infer pandera models, check datasets, derive serving requests."""
