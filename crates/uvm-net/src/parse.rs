//! Parsing of `-p` / `[[ports]]` and `--egress` / `[network] egress` values.
