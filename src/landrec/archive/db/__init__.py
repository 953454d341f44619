"""The archive's database: tables (`models`), sessions (`session`), migrations, the one
module that writes (`writes`), and the reads (`queries` for the API, `reads` for the rest)."""
