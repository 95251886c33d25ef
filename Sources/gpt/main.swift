print("gpt")
