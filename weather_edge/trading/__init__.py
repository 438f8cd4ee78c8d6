"""Trading: parameters, the decision engine, risk, shadow (paper) fills and live orders.

No orchestrator imports here: the Dagster layer (``defs/``) wires these functions into the
``would_trade_decisions`` asset and the execution op.
"""
