"""The archive's database: tables (`models`), sessions (`session`), migrations, and the one
module that writes (`writes`)."""
