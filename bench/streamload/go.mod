module fastmock-bench/streamload

go 1.19
