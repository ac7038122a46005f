module example.com/payments

go 1.26.1
