"""What an Agent block's call cost, from the tokens the provider reported."""

from __future__ import annotations

from decimal import Decimal

#: USD per million tokens (input, output), from the providers' public price lists.
#: Dated snapshots (gpt-4o-mini-2024-07-18) match by prefix; the longest prefix wins.
PRICES: dict[str, tuple[str, str]] = {
    "gpt-4o-mini": ("0.15", "0.60"),
    "gpt-4o": ("2.50", "10.00"),
    "gpt-4o-2024-05-13": ("5.00", "15.00"),  # the first snapshot kept its launch price
    "gpt-4.1-nano": ("0.10", "0.40"),
    "gpt-4.1-mini": ("0.40", "1.60"),
    "gpt-4.1": ("2.00", "8.00"),
    "gpt-4-turbo": ("10.00", "30.00"),
    "gpt-3.5-turbo": ("0.50", "1.50"),
    "o3-mini": ("1.10", "4.40"),
    "o4-mini": ("1.10", "4.40"),
}


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """The call's price, or None for a model we have no price for."""
    match = max(
        (m for m in PRICES if model == m or model.startswith(m + "-")), key=len, default=None
    )
    if match is None:
        return None
    p_in, p_out = (Decimal(x) for x in PRICES[match])
    total = (p_in * prompt_tokens + p_out * completion_tokens) / Decimal(1_000_000)
    return float(round(total, 8))


def call_cost(answered_model: str, asked_model: str, used: dict[str, int | None]) -> float | None:
    """The price by the model that answered, else by the one asked: a dated or
    renamed model in the reply may be unknown where the asked one is not. None
    when a count it needs is unknown."""
    if used["prompt_tokens"] is None or used["completion_tokens"] is None:
        return None
    for name in (answered_model, asked_model):
        price = cost_usd(name, used["prompt_tokens"], used["completion_tokens"])
        if price is not None:
            return price
    return None
