"""landrec.cli"""
