"""`start --respawn`: the restart policy, the loop, the resident process and the client side. Never imports Click."""
