-- Products with fewer than five units left, emptiest first.
SELECT
    sku,
    name,
    category,
    stock
FROM products
WHERE stock < 5
ORDER BY stock, sku;
