"""Police deconfliction and holds: police see cases first, clear them or hold them."""
