"""Running the semester: the roster, late work, regrades and their history, the instructor's
report, the LMS export. One small module per concern; nbgrader's gradebook stays the record."""
