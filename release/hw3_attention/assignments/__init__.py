"""The student-side runtime of the course's notebooks: offline data loaders and public checks.

Everything here runs on the student's machine, offline, and imports nothing heavier than
NumPy (scikit-learn only when its loader is called).
"""
