"""How things look on screen, in one place: untrusted text made literal, status marks and words, a sign-in address."""
