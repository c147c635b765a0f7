"""Building blocks the tests share: HTTP checks, polling, documents, signed receipts and a
running vendor simulator."""
