"""What participants and teachers see: message catalogues (widgets and dashboards follow)."""
