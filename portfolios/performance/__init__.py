"""How a portfolio has done over time: value history, returns, risk and contribution."""
