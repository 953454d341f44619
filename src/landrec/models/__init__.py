"""landrec.models"""
