"""The command line: Click commands, option declarations, every human text. The only package that knows Click."""
