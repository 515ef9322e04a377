"""Small SQLite files built from the public schemas of other frameworks (the DDL each one
writes on SQLite), with a few rows in the shape each one stores. Used by test_wild_schemas."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

DJANGO = """
CREATE TABLE "django_content_type" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "app_label" varchar(100) NOT NULL, "model" varchar(100) NOT NULL);
CREATE UNIQUE INDEX "django_content_type_app_label_model_76bd3d3b_uniq"
  ON "django_content_type" ("app_label", "model");
CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "password" varchar(128) NOT NULL, "last_login" datetime NULL, "is_superuser" bool NOT NULL,
  "username" varchar(150) NOT NULL UNIQUE, "email" varchar(254) NOT NULL,
  "is_staff" bool NOT NULL, "is_active" bool NOT NULL, "date_joined" datetime NOT NULL);
CREATE TABLE "django_admin_log" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "object_id" text NULL, "object_repr" varchar(200) NOT NULL,
  "action_flag" smallint unsigned NOT NULL CHECK ("action_flag" >= 0),
  "change_message" text NOT NULL,
  "content_type_id" integer NULL REFERENCES "django_content_type" ("id")
    DEFERRABLE INITIALLY DEFERRED,
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED,
  "action_time" datetime NOT NULL);
CREATE INDEX "django_admin_log_user_id_c564eba6" ON "django_admin_log" ("user_id");
CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY,
  "session_data" text NOT NULL, "expire_date" datetime NOT NULL);
CREATE TABLE "shop_product" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "name" varchar(100) NOT NULL, "price" decimal NOT NULL, "released" date NULL,
  "in_stock" bool NOT NULL, "data" text NOT NULL CHECK ((JSON_VALID("data") OR "data" IS NULL)),
  "created_by_id" integer NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE "shop_review" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "stars" decimal(3, 1) NOT NULL, "is_verified" bool NOT NULL, "published" date NOT NULL,
  "product_id" integer NOT NULL REFERENCES "shop_product" ("id") DEFERRABLE INITIALLY DEFERRED);
"""

RAILS = """
CREATE TABLE "schema_migrations" ("version" varchar NOT NULL PRIMARY KEY);
CREATE TABLE "ar_internal_metadata" ("key" varchar NOT NULL PRIMARY KEY, "value" varchar,
  "created_at" datetime(6) NOT NULL, "updated_at" datetime(6) NOT NULL);
CREATE TABLE "users" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  "email" varchar DEFAULT '' NOT NULL, "admin" boolean DEFAULT 0,
  "created_at" datetime(6) NOT NULL, "updated_at" datetime(6) NOT NULL);
CREATE UNIQUE INDEX "index_users_on_email" ON "users" ("email");
CREATE TABLE "articles" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "title" varchar,
  "body" text, "published_on" date, "rating" decimal(4,2), "user_id" integer NOT NULL,
  "settings" json, "created_at" datetime(6) NOT NULL, "updated_at" datetime(6) NOT NULL,
  CONSTRAINT "fk_rails_3d31dad1cc" FOREIGN KEY ("user_id") REFERENCES "users" ("id"));
CREATE INDEX "index_articles_on_user_id" ON "articles" ("user_id");
CREATE TABLE "active_storage_blobs" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  "key" varchar NOT NULL, "filename" varchar NOT NULL, "metadata" text,
  "byte_size" bigint NOT NULL, "checksum" varchar, "created_at" datetime(6) NOT NULL,
  "thumbnail" blob);
"""

PRISMA = """
CREATE TABLE "_prisma_migrations" ("id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL,
  "finished_at" DATETIME, "migration_name" TEXT NOT NULL, "logs" TEXT,
  "rolled_back_at" DATETIME, "started_at" DATETIME NOT NULL DEFAULT current_timestamp,
  "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0);
CREATE TABLE "User" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "email" TEXT NOT NULL,
  "name" TEXT, "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "isAdmin" BOOLEAN NOT NULL DEFAULT false, "balance" DECIMAL NOT NULL DEFAULT 0,
  "avatar" BLOB);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE TABLE "Post" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "title" TEXT NOT NULL,
  "published" BOOLEAN NOT NULL DEFAULT false, "authorId" INTEGER NOT NULL,
  "updatedAt" DATETIME NOT NULL,
  CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User" ("id")
    ON DELETE RESTRICT ON UPDATE CASCADE);
"""

DRIZZLE = """
CREATE TABLE `__drizzle_migrations` (id SERIAL PRIMARY KEY, hash text NOT NULL,
  created_at numeric);
CREATE TABLE `users` (`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL, `name` text NOT NULL,
  `created_at` integer DEFAULT (unixepoch()) NOT NULL, `is_active` integer DEFAULT 1 NOT NULL,
  `settings` text);
CREATE TABLE `posts` (`id` text PRIMARY KEY NOT NULL,
  `author_id` integer NOT NULL REFERENCES users(id) ON DELETE cascade,
  `updated_at` integer, `score` real, `tags` text DEFAULT '[]' NOT NULL);
CREATE INDEX `posts_author_idx` ON `posts` (`author_id`);
"""

STRAPI = """
CREATE TABLE `admin_users` (`id` integer not null primary key autoincrement,
  `firstname` varchar(255) null, `email` varchar(255) null, `is_active` boolean null,
  `blocked` boolean null, `created_at` datetime null, `updated_at` datetime null,
  `created_by_id` integer null, `updated_by_id` integer null,
  constraint `admin_users_created_by_id_fk` foreign key(`created_by_id`)
    references `admin_users`(`id`) on delete SET NULL,
  constraint `admin_users_updated_by_id_fk` foreign key(`updated_by_id`)
    references `admin_users`(`id`) on delete SET NULL);
CREATE TABLE `articles` (`id` integer not null primary key autoincrement,
  `title` varchar(255) null, `published_at` datetime null, `created_at` datetime null,
  `updated_at` datetime null, `created_by_id` integer null, `updated_by_id` integer null,
  `price` decimal(10, 2) null, `birthday` date null, `content` text null, `meta` json null,
  `cover` blob null,
  constraint `articles_created_by_id_fk` foreign key(`created_by_id`)
    references `admin_users`(`id`) on delete SET NULL,
  constraint `articles_updated_by_id_fk` foreign key(`updated_by_id`)
    references `admin_users`(`id`) on delete SET NULL);
CREATE INDEX `articles_created_by_id_fk` on `articles` (`created_by_id`);
CREATE INDEX `articles_updated_by_id_fk` on `articles` (`updated_by_id`);
CREATE TABLE `strapi_webhooks` (`id` integer not null primary key autoincrement,
  `name` varchar(255) null, `enabled` boolean null, `created_at` datetime null,
  `created_by_id` integer null);
"""

SAKILA = """
CREATE TABLE country (country_id SMALLINT NOT NULL, country VARCHAR(50) NOT NULL,
  last_update TIMESTAMP, PRIMARY KEY (country_id));
CREATE TABLE city (city_id int NOT NULL, city VARCHAR(50) NOT NULL,
  country_id SMALLINT NOT NULL, last_update TIMESTAMP NOT NULL, PRIMARY KEY (city_id),
  CONSTRAINT fk_city_country FOREIGN KEY (country_id) REFERENCES country (country_id)
    ON DELETE NO ACTION ON UPDATE CASCADE);
CREATE TABLE address (address_id int NOT NULL, address VARCHAR(50) NOT NULL,
  city_id INT NOT NULL, phone VARCHAR(20) NOT NULL, last_update TIMESTAMP NOT NULL,
  PRIMARY KEY (address_id),
  CONSTRAINT fk_address_city FOREIGN KEY (city_id) REFERENCES city (city_id));
CREATE TABLE store (store_id INT NOT NULL, manager_staff_id SMALLINT NOT NULL,
  address_id INT NOT NULL, last_update TIMESTAMP NOT NULL, PRIMARY KEY (store_id),
  CONSTRAINT fk_store_address FOREIGN KEY (address_id) REFERENCES address (address_id));
CREATE TABLE customer (customer_id INT NOT NULL, store_id INT NOT NULL,
  first_name VARCHAR(45) NOT NULL, last_name VARCHAR(45) NOT NULL, email VARCHAR(50) DEFAULT NULL,
  address_id INT NOT NULL, active CHAR(1) DEFAULT 'Y' NOT NULL, create_date TIMESTAMP NOT NULL,
  last_update TIMESTAMP NOT NULL, PRIMARY KEY (customer_id),
  CONSTRAINT fk_customer_store FOREIGN KEY (store_id) REFERENCES store (store_id),
  CONSTRAINT fk_customer_address FOREIGN KEY (address_id) REFERENCES address (address_id));
CREATE INDEX idx_customer_last_name ON customer(last_name);
CREATE TABLE staff (staff_id SMALLINT NOT NULL, first_name VARCHAR(45) NOT NULL,
  last_name VARCHAR(45) NOT NULL, address_id INT NOT NULL, picture BLOB DEFAULT NULL,
  store_id INT NOT NULL, active SMALLINT DEFAULT 1 NOT NULL, last_update TIMESTAMP NOT NULL,
  PRIMARY KEY (staff_id),
  CONSTRAINT fk_staff_address FOREIGN KEY (address_id) REFERENCES address (address_id));
CREATE TABLE actor (actor_id numeric NOT NULL, first_name VARCHAR(45) NOT NULL,
  last_name VARCHAR(45) NOT NULL, last_update TIMESTAMP NOT NULL, PRIMARY KEY (actor_id));
CREATE TABLE category (category_id SMALLINT NOT NULL, name VARCHAR(25) NOT NULL,
  last_update TIMESTAMP NOT NULL, PRIMARY KEY (category_id));
CREATE TABLE film (film_id int NOT NULL, title VARCHAR(255) NOT NULL,
  description BLOB SUB_TYPE TEXT DEFAULT NULL, release_year VARCHAR(4) DEFAULT NULL,
  rental_rate DECIMAL(4,2) DEFAULT 4.99 NOT NULL, length SMALLINT DEFAULT NULL,
  rating VARCHAR(10) DEFAULT 'G', last_update TIMESTAMP NOT NULL, PRIMARY KEY (film_id),
  CONSTRAINT CHECK_special_rating CHECK(rating in ('G','PG','PG-13','R','NC-17')));
CREATE TABLE film_actor (actor_id INT NOT NULL, film_id INT NOT NULL,
  last_update TIMESTAMP NOT NULL, PRIMARY KEY (actor_id, film_id),
  CONSTRAINT fk_film_actor_actor FOREIGN KEY (actor_id) REFERENCES actor (actor_id),
  CONSTRAINT fk_film_actor_film FOREIGN KEY (film_id) REFERENCES film (film_id));
CREATE TABLE film_category (film_id INT NOT NULL, category_id SMALLINT NOT NULL,
  last_update TIMESTAMP NOT NULL, PRIMARY KEY (film_id, category_id),
  CONSTRAINT fk_film_category_film FOREIGN KEY (film_id) REFERENCES film (film_id),
  CONSTRAINT fk_film_category_category FOREIGN KEY (category_id)
    REFERENCES category (category_id));
CREATE VIEW film_list AS SELECT film.film_id AS FID, film.title AS title,
  film.description AS description, category.name AS category, film.rental_rate AS price,
  film.length AS length, film.rating AS rating,
  actor.first_name||' '||actor.last_name AS actors
  FROM category LEFT JOIN film_category ON category.category_id = film_category.category_id
  LEFT JOIN film ON film_category.film_id = film.film_id
  JOIN film_actor ON film.film_id = film_actor.film_id
  JOIN actor ON film_actor.actor_id = actor.actor_id;
CREATE VIEW staff_list AS SELECT s.staff_id AS ID, s.first_name||' '||s.last_name AS name,
  a.address AS address, a.phone AS phone, city.city AS city, country.country AS country,
  s.store_id AS SID FROM staff AS s JOIN address AS a ON s.address_id = a.address_id
  JOIN city ON a.city_id = city.city_id JOIN country ON city.country_id = country.country_id;
CREATE VIEW actor_info AS SELECT a.actor_id, a.first_name, a.last_name,
  GROUP_CONCAT(DISTINCT c.name) AS categories, count(fa.film_id) AS films
  FROM actor a LEFT JOIN film_actor fa ON a.actor_id = fa.actor_id
  LEFT JOIN film_category fc ON fa.film_id = fc.film_id
  LEFT JOIN category c ON fc.category_id = c.category_id GROUP BY a.actor_id;
CREATE TABLE payment (payment_id int NOT NULL, customer_id INT NOT NULL,
  amount DECIMAL(5,2) NOT NULL, payment_date TIMESTAMP NOT NULL, last_update TIMESTAMP NOT NULL,
  PRIMARY KEY (payment_id),
  CONSTRAINT fk_payment_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id));
CREATE VIEW customer_list AS SELECT cu.customer_id AS ID,
  cu.first_name||' '||cu.last_name AS name, a.address AS address, a.phone AS phone,
  city.city AS city, country.country AS country,
  case when cu.active=1 then 'active' else '' end AS notes, cu.store_id AS SID
  FROM customer AS cu JOIN address AS a ON cu.address_id = a.address_id
  JOIN city ON a.city_id = city.city_id JOIN country ON city.country_id = country.country_id;
CREATE VIEW sales_by_store AS SELECT s.store_id, c.city||','||cy.country AS store,
  SUM(p.amount) AS total_sales FROM payment AS p
  INNER JOIN customer AS cu ON p.customer_id = cu.customer_id
  INNER JOIN store AS s ON cu.store_id = s.store_id
  INNER JOIN address AS a ON s.address_id = a.address_id
  INNER JOIN city AS c ON a.city_id = c.city_id
  INNER JOIN country AS cy ON c.country_id = cy.country_id
  GROUP BY s.store_id ORDER BY cy.country, c.city;
CREATE VIEW sales_by_customer AS SELECT cu.customer_id,
  cu.first_name||' '||cu.last_name AS name, SUM(p.amount) AS total, COUNT(*) AS payments,
  strftime('%Y-%m', MAX(p.payment_date)) AS last_month
  FROM payment AS p JOIN customer AS cu ON p.customer_id = cu.customer_id
  GROUP BY cu.customer_id;
"""

NORTHWIND = """
CREATE TABLE [Categories] ([CategoryID] INTEGER PRIMARY KEY AUTOINCREMENT,
  [CategoryName] TEXT, [Description] TEXT, [Picture] BLOB);
CREATE TABLE [Customers] ([CustomerID] TEXT, [CompanyName] TEXT, [City] TEXT,
  [Country] TEXT, PRIMARY KEY ([CustomerID]));
CREATE TABLE [Suppliers] ([SupplierID] INTEGER PRIMARY KEY AUTOINCREMENT,
  [CompanyName] TEXT NOT NULL, [ContactName] TEXT, [City] TEXT);
CREATE TABLE [Products] ([ProductID] INTEGER PRIMARY KEY AUTOINCREMENT,
  [ProductName] TEXT NOT NULL, [CategoryID] INTEGER, [UnitPrice] NUMERIC DEFAULT 0,
  [UnitsInStock] INTEGER DEFAULT 0, [Discontinued] TEXT NOT NULL DEFAULT '0',
  FOREIGN KEY ([CategoryID]) REFERENCES [Categories] ([CategoryID])
    ON DELETE NO ACTION ON UPDATE NO ACTION);
CREATE TABLE [Orders] ([OrderID] INTEGER PRIMARY KEY AUTOINCREMENT, [CustomerID] TEXT,
  [OrderDate] DATETIME, [RequiredDate] DATETIME, [ShippedDate] DATETIME,
  [Freight] NUMERIC DEFAULT 0,
  FOREIGN KEY ([CustomerID]) REFERENCES [Customers] ([CustomerID]));
CREATE TABLE [Order Details] ([OrderID] INTEGER NOT NULL, [ProductID] INTEGER NOT NULL,
  [UnitPrice] NUMERIC NOT NULL DEFAULT 0, [Quantity] INTEGER NOT NULL DEFAULT 1,
  [Discount] REAL NOT NULL DEFAULT 0, PRIMARY KEY ("OrderID","ProductID"),
  CHECK ([Discount]>=(0) AND [Discount]<=(1)),
  FOREIGN KEY ([OrderID]) REFERENCES [Orders] ([OrderID]),
  FOREIGN KEY ([ProductID]) REFERENCES [Products] ([ProductID]));
CREATE VIEW [Alphabetical list of products] AS SELECT Products.*, Categories.CategoryName
  FROM Categories INNER JOIN Products ON Categories.CategoryID = Products.CategoryID
  WHERE (((Products.Discontinued)=0));
CREATE VIEW [Current Product List] AS SELECT ProductID, ProductName FROM Products
  WHERE Discontinued=0;
CREATE VIEW [Category Sales for 1997] AS SELECT [Product Sales for 1997].CategoryName,
  Sum([Product Sales for 1997].ProductSales) AS CategorySales FROM [Product Sales for 1997]
  GROUP BY [Product Sales for 1997].CategoryName;
CREATE VIEW [Product Sales for 1997] AS SELECT Categories.CategoryName, Products.ProductName,
  Sum(([Order Details].UnitPrice*Quantity*(1-Discount)/100)*100) AS ProductSales
  FROM Categories JOIN Products ON Categories.CategoryID = Products.CategoryID
  JOIN [Order Details] ON Products.ProductID = [Order Details].ProductID
  JOIN Orders ON Orders.OrderID = [Order Details].OrderID
  WHERE (((Orders.ShippedDate) Between DATETIME('1997-01-01') And DATETIME('1997-12-31')))
  GROUP BY Categories.CategoryName, Products.ProductName;
CREATE VIEW [Orders Qry] AS SELECT Orders.OrderID, Orders.CustomerID, Orders.OrderDate,
  strftime('%Y', Orders.OrderDate) AS OrderYear, Customers.CompanyName, Customers.City
  FROM Customers JOIN Orders ON Customers.CustomerID = Orders.CustomerID;
CREATE VIEW [Quarterly Orders] AS SELECT DISTINCT Customers.CustomerID, Customers.CompanyName,
  Customers.City, Customers.Country FROM Customers JOIN Orders
  ON Customers.CustomerID = Orders.CustomerID
  WHERE Orders.OrderDate BETWEEN DATETIME('1997-01-01') And DATETIME('1997-12-31');
CREATE VIEW [Summary of Sales by Year] AS SELECT date(Orders.ShippedDate) AS ShippedDate,
  Orders.OrderID, julianday(Orders.ShippedDate) - julianday(Orders.OrderDate) AS DaysToShip
  FROM Orders WHERE Orders.ShippedDate IS NOT NULL;
CREATE VIEW [Late Orders] AS SELECT OrderID FROM Orders
  WHERE ShippedDate > datetime(RequiredDate, '+7 days') OR OrderDate > datetime('now');
CREATE VIEW [Order Subtotals] AS SELECT [Order Details].OrderID,
  Sum(([Order Details].UnitPrice*Quantity*(1-Discount)/100)*100) AS Subtotal
  FROM [Order Details] GROUP BY [Order Details].OrderID;
CREATE VIEW [Customer and Suppliers by City] AS SELECT City, CompanyName,
  'Customers' AS Relationship FROM Customers UNION SELECT City, CompanyName, 'Suppliers'
  FROM Suppliers ORDER BY City, CompanyName;
CREATE VIEW [Products Above Average Price] AS SELECT Products.ProductName, Products.UnitPrice
  FROM Products WHERE Products.UnitPrice>(SELECT AVG(UnitPrice) From Products)
  ORDER BY Products.UnitPrice DESC;
CREATE VIEW [Products by Category] AS SELECT Categories.CategoryName, Products.ProductName,
  Products.UnitsInStock, Products.Discontinued FROM Categories INNER JOIN Products
  ON Categories.CategoryID = Products.CategoryID WHERE Products.Discontinued <> 1
  ORDER BY Categories.CategoryName, Products.ProductName;
CREATE VIEW [Order Details Extended] AS SELECT [Order Details].OrderID,
  [Order Details].ProductID, Products.ProductName, [Order Details].UnitPrice,
  [Order Details].Quantity, [Order Details].Discount,
  ([Order Details].UnitPrice*Quantity*(1-Discount)/100)*100 AS ExtendedPrice
  FROM Products JOIN [Order Details] ON Products.ProductID = [Order Details].ProductID;
CREATE VIEW [Sales by Category] AS SELECT Categories.CategoryID, Categories.CategoryName,
  Products.ProductName, Sum([Order Details Extended].ExtendedPrice) AS ProductSales
  FROM Categories JOIN Products ON Categories.CategoryID = Products.CategoryID
  JOIN [Order Details Extended] ON Products.ProductID = [Order Details Extended].ProductID
  JOIN Orders ON Orders.OrderID = [Order Details Extended].OrderID
  WHERE Orders.OrderDate BETWEEN DATETIME('1997-01-01') And DATETIME('1997-12-31')
  GROUP BY Categories.CategoryID, Categories.CategoryName, Products.ProductName;
CREATE VIEW [Sales Totals by Amount] AS SELECT [Order Subtotals].Subtotal AS SaleAmount,
  Orders.OrderID, Customers.CompanyName, Orders.ShippedDate FROM Customers
  JOIN Orders ON Customers.CustomerID = Orders.CustomerID
  JOIN [Order Subtotals] ON Orders.OrderID = [Order Subtotals].OrderID
  WHERE ([Order Subtotals].Subtotal > 250)
  AND (Orders.ShippedDate BETWEEN DATETIME('1997-01-01') And DATETIME('1997-12-31'));
CREATE VIEW [Summary of Sales by Quarter] AS SELECT Orders.ShippedDate, Orders.OrderID,
  [Order Subtotals].Subtotal FROM Orders INNER JOIN [Order Subtotals]
  ON Orders.OrderID = [Order Subtotals].OrderID WHERE Orders.ShippedDate IS NOT NULL;
CREATE VIEW [Product Labels] AS SELECT ProductName || ' (' || CategoryName || ')' AS Label,
  ifnull(UnitsInStock, 0) AS Stock FROM Products JOIN Categories USING (CategoryID);
"""

FTS = """
CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT);
CREATE VIRTUAL TABLE docs USING fts5(title, body);
CREATE VIRTUAL TABLE notes_fts USING fts5(title, body, content='notes', content_rowid='id');
CREATE VIRTUAL TABLE old_docs USING fts4(subject, text);
"""

COLLATIONS = """
CREATE TABLE notetypes (id integer NOT NULL PRIMARY KEY, name text NOT NULL COLLATE unicase,
  mtime_secs integer NOT NULL);
CREATE UNIQUE INDEX idx_notetypes_name ON notetypes (name);
CREATE TABLE tags (tag text NOT NULL PRIMARY KEY COLLATE NOCASE, usn integer NOT NULL)
  WITHOUT ROWID;
CREATE TABLE decks (id integer PRIMARY KEY, name text NOT NULL COLLATE NOCASE,
  kind text COLLATE RTRIM);
CREATE INDEX idx_decks_name ON decks (name);
CREATE VIEW deck_names AS SELECT name FROM decks ORDER BY name;
"""

STAMP_S = 1_700_000_000  # 2023-11-14, epoch seconds
STAMP_MS = STAMP_S * 1000


def _django(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT INTO django_content_type VALUES (?, ?, ?)",
        [(1, "auth", "user"), (2, "shop", "product")],
    )
    conn.executemany(
        "INSERT INTO auth_user VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "pbkdf2$x", None, 1, "admin", "a@x.io", 1, 1, "2024-01-02 10:11:12.345678"),
            (2, "pbkdf2$y", "2024-03-01 08:00:00", 0, "bob", "b@x.io", 0, 1, "2024-02-03 00:00:00"),
        ],
    )
    conn.execute(
        "INSERT INTO django_admin_log VALUES (1, '1', 'admin', 1, '[]', 1, 1,"
        " '2024-01-02 10:11:12')"
    )
    conn.execute("INSERT INTO django_session VALUES ('k1', 'e30=', '2024-05-01 00:00:00')")
    conn.executemany(
        "INSERT INTO shop_product VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "Mug", "12.50", "2023-10-01", 1, '{"color": "red"}', 1),
            (2, "Cap", 7, None, 0, "[]", None),
        ],
    )
    # shop_review stays empty: its declared types alone decide


def _rails(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO schema_migrations VALUES ('20240101000000')")
    conn.execute(
        "INSERT INTO ar_internal_metadata VALUES ('environment', 'development',"
        " '2024-01-01 00:00:00.123456', '2024-01-01 00:00:00.123456')"
    )
    conn.executemany(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
        [
            (1, "a@x.io", 1, "2024-01-01 10:00:00.000001", "2024-01-01 10:00:00.000001"),
            (2, "b@x.io", 0, "2024-01-02 10:00:00", "2024-01-02 10:00:00"),
        ],
    )
    conn.executemany(
        "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                1,
                "Hello",
                "body",
                "2024-01-05",
                4.5,
                1,
                '{"draft": false}',
                "2024-01-05 09:00:00",
                "2024-01-05 09:00:00",
            ),
            (2, "World", None, None, 12.25, 2, None, "2024-01-06 09:00:00", "2024-01-06 09:00:00"),
        ],
    )


def _prisma(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO _prisma_migrations VALUES ('m1', 'abc', ?, '20240101_init', NULL, NULL, ?, 1)",
        (STAMP_MS, STAMP_MS),
    )
    conn.executemany(
        'INSERT INTO "User" VALUES (?, ?, ?, ?, ?, ?, ?)',
        [
            (1, "a@x.io", "Ann", STAMP_MS, 1, 10, b"\x89PNG"),
            (2, "b@x.io", None, STAMP_MS + 1, 0, 0.5, None),
        ],
    )
    conn.executemany(
        'INSERT INTO "Post" VALUES (?, ?, ?, ?, ?)',
        [(1, "First", 1, 1, STAMP_MS), (2, "Second", 0, 2, STAMP_MS)],
    )


def _drizzle(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO __drizzle_migrations VALUES (1, 'h', 1700000000000)")
    conn.executemany(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
        [(1, "Ann", STAMP_S, 1, '{"theme": "dark"}'), (2, "Bob", STAMP_S + 60, 0, None)],
    )
    conn.executemany(
        "INSERT INTO posts VALUES (?, ?, ?, ?, ?)",
        [("p1", 1, None, 1.5, '["a"]'), ("p2", 2, None, None, "[]")],
    )


def _strapi(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT INTO admin_users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "Ann", "a@x.io", 1, 0, STAMP_MS, STAMP_MS, None, None),
            (2, "Bob", "b@x.io", 1, 0, STAMP_MS, STAMP_MS, 1, 1),
        ],
    )
    conn.executemany(
        "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                1,
                "Hi",
                STAMP_MS,
                STAMP_MS,
                STAMP_MS,
                1,
                1,
                9.99,
                "1990-05-17",
                "text",
                '{"seo": {"title": "Hi"}}',
                None,
            ),
            (2, "Yo", None, STAMP_MS, STAMP_MS, None, None, None, None, None, None, None),
        ],
    )
    # strapi_webhooks stays empty: created_by_id must stay an integer all the same


def _sakila(conn: sqlite3.Connection) -> None:
    stamp = "2006-02-15 04:34:33"
    conn.executemany(
        "INSERT INTO country VALUES (?, ?, ?)", [(1, "Brazil", stamp), (2, "Portugal", stamp)]
    )
    conn.executemany(
        "INSERT INTO city VALUES (?, ?, ?, ?)", [(1, "Recife", 1, stamp), (2, "Lisboa", 2, stamp)]
    )
    conn.executemany(
        "INSERT INTO address VALUES (?, ?, ?, ?, ?)",
        [(1, "Rua A", 1, "555", stamp), (2, "Rua B", 2, "556", stamp)],
    )
    conn.executemany("INSERT INTO store VALUES (?, ?, ?, ?)", [(1, 1, 1, stamp), (2, 2, 2, stamp)])
    conn.execute("INSERT INTO staff VALUES (1, 'Mike', 'Hillyer', 1, NULL, 1, 1, ?)", (stamp,))
    conn.executemany(
        "INSERT INTO actor VALUES (?, ?, ?, ?)",
        [(1, "PENELOPE", "GUINESS", stamp), (2, "NICK", "WAHLBERG", stamp)],
    )
    conn.executemany(
        "INSERT INTO category VALUES (?, ?, ?)", [(1, "Action", stamp), (2, "Comedy", stamp)]
    )
    conn.executemany(
        "INSERT INTO film VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "ACADEMY DINOSAUR", "An epic drama", "2006", 0.99, 86, "PG", stamp),
            (2, "ACE GOLDFINGER", None, "2006", 4.99, 48, "G", stamp),
        ],
    )
    conn.executemany(
        "INSERT INTO film_actor VALUES (?, ?, ?)", [(1, 1, stamp), (1, 2, stamp), (2, 2, stamp)]
    )
    conn.executemany("INSERT INTO film_category VALUES (?, ?, ?)", [(1, 1, stamp), (2, 2, stamp)])
    conn.executemany(
        "INSERT INTO customer VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, 1, "MARY", "SMITH", "m@x.io", 1, "1", stamp, stamp),
            (2, 2, "JOHN", "DOE", None, 2, "0", stamp, stamp),
        ],
    )
    conn.executemany(
        "INSERT INTO payment VALUES (?, ?, ?, ?, ?)",
        [
            (1, 1, 2.99, "2005-05-25 11:30:37", stamp),
            (2, 1, 0.99, "2005-05-28 10:35:23", stamp),
            (3, 2, 5.99, "2005-06-15 00:54:12", stamp),
        ],
    )


def _northwind(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT INTO Categories VALUES (?, ?, ?, ?)",
        [(1, "Beverages", "Soft drinks", b"\x15\x1c"), (2, "Condiments", "Sauces", None)],
    )
    conn.executemany(
        "INSERT INTO Customers VALUES (?, ?, ?, ?)",
        [("ALFKI", "Alfreds", "Berlin", "Germany"), ("ANATR", "Ana Trujillo", "México", "Mexico")],
    )
    conn.execute("INSERT INTO Suppliers VALUES (1, 'Exotic Liquids', 'Charlotte', 'London')")
    conn.executemany(
        "INSERT INTO Products VALUES (?, ?, ?, ?, ?, ?)",
        [
            (1, "Chai", 1, 18, 39, "0"),
            (2, "Chang", 1, 19, 17, "1"),
            (3, "Aniseed Syrup", 2, 10, 13, "0"),
        ],
    )
    conn.executemany(
        "INSERT INTO Orders VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                10248,
                "ALFKI",
                "1997-07-04 00:00:00",
                "1997-08-01 00:00:00",
                "1997-07-16 00:00:00",
                32.38,
            ),
            (10249, "ANATR", "1996-07-05 00:00:00", "1996-08-16 00:00:00", None, 11.61),
        ],
    )
    conn.executemany(
        'INSERT INTO "Order Details" VALUES (?, ?, ?, ?, ?)',
        [(10248, 1, 14, 12, 0), (10248, 3, 9.8, 10, 0), (10249, 2, 18.6, 9, 0.15)],
    )


def _fts(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT INTO notes VALUES (?, ?, ?)",
        [(1, "Postgres", "full text search"), (2, "SQLite", "fts5 tables")],
    )
    conn.execute("INSERT INTO notes_fts(notes_fts) VALUES ('rebuild')")
    conn.executemany(
        "INSERT INTO docs VALUES (?, ?)", [("Migrations", "copy every row"), ("Verify", "prove it")]
    )
    conn.execute("INSERT INTO old_docs VALUES ('fts4', 'still here')")


def _collations(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT INTO notetypes VALUES (?, ?, ?)", [(1, "Basic", STAMP_S), (2, "Cloze", STAMP_S)]
    )
    conn.executemany("INSERT INTO tags VALUES (?, ?)", [("Verbs", 0), ("nouns", 1)])
    conn.executemany(
        "INSERT INTO decks VALUES (?, ?, ?)", [(1, "Default", "normal  "), (2, "japanese", None)]
    )


def unicase(a: str, b: str) -> int:
    """Anki's collation, as the app registers it (case-insensitive Unicode)."""
    x, y = a.casefold(), b.casefold()
    return (x > y) - (x < y)


FILLERS: dict[str, tuple[str, Callable[[sqlite3.Connection], None]]] = {
    "django": (DJANGO, _django),
    "rails": (RAILS, _rails),
    "prisma": (PRISMA, _prisma),
    "drizzle": (DRIZZLE, _drizzle),
    "strapi": (STRAPI, _strapi),
    "sakila": (SAKILA, _sakila),
    "northwind": (NORTHWIND, _northwind),
    "fts": (FTS, _fts),
    "collations": (COLLATIONS, _collations),
}


def build(path: Path, name: str) -> Path:
    """Write the ``name`` file (see FILLERS) at ``path``."""
    ddl, fill = FILLERS[name]
    conn = sqlite3.connect(path)
    conn.create_collation("unicase", unicase)
    try:
        conn.executescript(ddl)
        fill(conn)
        conn.commit()
    finally:
        conn.close()
    return path


def types(rows: list[tuple[Any, ...]]) -> dict[str, str]:
    """``table.column`` -> format_type() of the rows of :data:`TYPES_SQL`."""
    return {f"{t}.{c}": str(ty) for t, c, ty in rows}


TYPES_SQL = (
    "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)"
    " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
    " AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
)
FKS_SQL = (
    "SELECT conrelid::regclass::text, confrelid::regclass::text, convalidated"
    " FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
)
VIEWS_SQL = "SELECT viewname FROM pg_views WHERE schemaname = 'public'"
