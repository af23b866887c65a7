// Bindings for a query whose SQL is put together at run time (`PostgresQuery(unsafeSQL:binds:)`).

import PostgresNIO

extension PostgresBindings {
    /// `values` as $1, $2, … in order.
    init(binding values: any PostgresEncodable...) throws {
        self.init()
        for value in values { try append(value) }
    }
}
