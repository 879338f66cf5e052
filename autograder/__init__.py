"""Instructor tooling for the course: release, validate, grade, export, feedback."""
