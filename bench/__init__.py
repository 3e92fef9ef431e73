"""The benchmark (`make bench`, `python -m bench`): not part of the app.

seed.py fills a separate database with fictional patients; measure.py times the guidance
engine and the main pages against it.
"""
