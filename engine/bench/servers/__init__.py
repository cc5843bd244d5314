"""Real servers on loopback for the day bench and the tests: SMTP (aiosmtpd), IMAP (Dovecot), callback receivers."""
