"""Reports over a store: where customers stand, funnels, KPIs and stage history."""
