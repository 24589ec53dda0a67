-- Revenue per calendar month, cancelled orders excluded.
SELECT
    strftime('%Y-%m', o.ordered_at) AS month,
    COUNT(DISTINCT o.id) AS orders,
    ROUND(SUM(oi.quantity * oi.unit_price_cents) / 100.0, 2) AS revenue
FROM orders AS o
JOIN order_items AS oi ON oi.order_id = o.id
WHERE o.status <> 'cancelled'
GROUP BY month
ORDER BY month;
