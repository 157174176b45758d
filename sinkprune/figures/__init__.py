"""Figures stage: one function per figure, seaborn over a tidy DataFrame, PDF + PNG."""
