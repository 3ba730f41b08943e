"""Call rows: one per call, from Asterisk's CDRs (AMI, or its CSV file) merged with the app's own record."""
