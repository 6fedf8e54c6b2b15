#!/usr/bin/env python3
"""Writes a Shopify order export (Orders > Export, the headers of mappings/import/shopify_orders.json) of N rows:
orders of 1, 2 or 3 line items in turn (2 rows an order on average, so N/2 order records), each order's first row
with the order-level fields filled as a real export has them (billing and shipping addresses, payment, tags: about
500 bytes), the rows after it only the line item's columns (about 150 bytes), for bench/load/import.sh.

Usage: make_import_csv.py N ORDERS.csv   (prints the number of orders it wrote)
"""
import csv
import sys

HEADER = ("Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
          "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,"
          "Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,"
          "Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,"
          "Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,"
          "Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,"
          "Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,"
          "Refunded Amount,Vendor,Id,Tags,Risk Level,Source,Lineitem discount").split(",")
PRODUCTS = [("Linen Shirt - M / Blue", "SHIRT-M-BLUE", "19.50"), ('Wool Socks "Classic"', "SOCKS-CLASSIC", "12.00"),
            ("Canvas Tote, Natural", "TOTE-NAT", "24.00"), ("Merino Beanie - Charcoal", "BEANIE-CHAR", "18.00")]


def rows(n):
    written, order = 0, 0
    while written < n:
        items = min(1 + order % 3, n - written)
        name = "#%d" % (100000 + order)
        email = "customer%d@example.com" % order
        created = "2024-03-%02d %02d:%02d:%02d +0000" % (1 + order % 28, order % 24, order % 60, (order * 7) % 60)
        lines = [PRODUCTS[(order + i) % len(PRODUCTS)] for i in range(items)]
        subtotal = sum(float(p[2]) for p in lines)
        for i, (title, sku, price) in enumerate(lines):
            row = dict.fromkeys(HEADER, "")
            row.update({"Name": name, "Email": email, "Created at": created, "Lineitem quantity": str(1 + i % 2),
                        "Lineitem name": title, "Lineitem price": price, "Lineitem sku": sku,
                        "Lineitem requires shipping": "true", "Lineitem taxable": "true",
                        "Lineitem fulfillment status": "fulfilled", "Lineitem discount": "0.00"})
            if i == 0:
                person = "Customer %d Example" % order
                street = "%d Ockham Lane, Flat %d" % (1 + order % 200, 1 + order % 9)
                row.update({"Financial Status": "paid", "Paid at": created, "Fulfillment Status": "fulfilled",
                            "Fulfilled at": created, "Accepts Marketing": "yes" if order % 2 else "no", "Currency": "GBP",
                            "Subtotal": "%.2f" % subtotal, "Shipping": "4.95", "Taxes": "%.2f" % (subtotal / 6),
                            "Total": "%.2f" % (subtotal + 4.95), "Discount Code": "SPRING10" if order % 4 == 0 else "",
                            "Discount Amount": "0.00", "Shipping Method": "Standard", "Billing Name": person,
                            "Billing Street": street, "Billing Address1": street.split(",")[0],
                            "Billing Address2": "Flat %d" % (1 + order % 9), "Billing City": "London",
                            "Billing Zip": "N1 7AA", "Billing Country": "GB", "Billing Phone": "+44 20 7946 %04d" % (order % 10000),
                            "Shipping Name": person, "Shipping Street": street, "Shipping Address1": street.split(",")[0],
                            "Shipping Address2": "Flat %d" % (1 + order % 9), "Shipping City": "London",
                            "Shipping Zip": "N1 7AA", "Shipping Country": "GB", "Notes": "Leave at the door, please",
                            "Payment Method": "Shopify Payments", "Payment Reference": "c%d.1" % order,
                            "Refunded Amount": "0.00", "Vendor": "Acme Linen", "Id": str(5500000000000 + order),
                            "Tags": "vip, spring" if order % 5 == 0 else "", "Risk Level": "Low", "Source": "web"})
            yield row
            written += 1
        order += 1
    rows.orders = order


def main():
    count, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        for row in rows(count):
            writer.writerow(row)
    print(rows.orders)


if __name__ == "__main__":
    main()
