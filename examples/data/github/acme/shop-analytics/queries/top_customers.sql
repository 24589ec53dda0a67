-- Top five customers by lifetime revenue, cancelled orders excluded.
SELECT
    c.id,
    c.name,
    c.city,
    COUNT(DISTINCT o.id) AS orders,
    ROUND(SUM(oi.quantity * oi.unit_price_cents) / 100.0, 2) AS revenue
FROM customers AS c
JOIN orders AS o ON o.customer_id = c.id AND o.status <> 'cancelled'
JOIN order_items AS oi ON oi.order_id = o.id
GROUP BY c.id, c.name, c.city
ORDER BY revenue DESC
LIMIT 5;
