"""The start of every HTML page the workflow writes (metrics table, summary, benchmark):
declared UTF-8, so that file names and dashes show as written whatever the browser guesses."""

PAGE_START = '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>'
