import unittest

from calculator import add, percent


class CalculatorTest(unittest.TestCase):
    def test_add(self) -> None:
        self.assertEqual(add(2, 3), 5)

    def test_percent(self) -> None:
        self.assertEqual(percent(1, 4), 25)

    def test_percent_of_nothing_is_refused(self) -> None:
        with self.assertRaises(ValueError):
            percent(1, 0)
